"""Mutants of Finn et al.'s ports, a module per variant (`cdna`, `dna`, `stp`: each pair's
`TwinPair.mutants`); the mistakes they share are `mistakes`."""
