"""Mutants of the Chainer ports, one porting pitfall each, per pair (`cross_conv`,
`convlstm`). A pair's catalogue (`TwinPair.pitfalls`) names them; `twinport pitfalls --check`
runs them."""
