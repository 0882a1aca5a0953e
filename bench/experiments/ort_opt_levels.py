import time, numpy as np, onnxruntime as ort
x = np.random.default_rng(0).random((1,256,256,3), dtype=np.float32)
def t(path, level=None, threads=2):
    so = ort.SessionOptions(); so.intra_op_num_threads = threads; so.log_severity_level = 3
    if level is not None: so.graph_optimization_level = level
    s = ort.InferenceSession(path, so, providers=['CPUExecutionProvider']); n = s.get_inputs()[0].name
    for _ in range(5): s.run(None, {n: x})
    ts = []
    for _ in range(40):
        a = time.perf_counter(); s.run(None, {n: x}); ts.append(time.perf_counter() - a)
    return np.median(ts) * 1e3
q='/tmp/ortx/qdq_u8s8_rr.onnx'
for lv in (ort.GraphOptimizationLevel.ORT_ENABLE_BASIC, ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, ort.GraphOptimizationLevel.ORT_ENABLE_ALL):
    print('int8', lv, f"{t(q, lv):.1f}")
    print('fp32', lv, f"{t('/tmp/ortx/pre.onnx', lv):.1f}")
