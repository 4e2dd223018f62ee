"""`twinport bench`: the TF reference and the Chainer port timed side by side (`run`, in worker
processes: `process`, `worker`; the report: `report`), and where the fast path's convolution
time goes (`gemm`).

Nothing is imported here: each worker runs as `python -m twinport.bench.worker`, which loads
this package first, and must load only its own framework.
"""
