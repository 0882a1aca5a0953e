import time, numpy as np, onnxruntime as ort, sys
x = np.random.default_rng(0).random((1,256,256,3), dtype=np.float32)
def t(path, **opt):
    so = ort.SessionOptions(); so.intra_op_num_threads = 2; so.log_severity_level = 3
    for k, v in opt.items():
        if k == 'level': so.graph_optimization_level = v
        else: so.add_session_config_entry(k, v)
    s = ort.InferenceSession(path, so, providers=['CPUExecutionProvider']); n = s.get_inputs()[0].name
    for _ in range(5): s.run(None, {n: x})
    ts = []
    for _ in range(40):
        a = time.perf_counter(); s.run(None, {n: x}); ts.append(time.perf_counter() - a)
    return np.median(ts) * 1e3
for p in sys.argv[1:]:
    print(p.split('/')[-1], f"{t(p):.1f} ms")
print('qdq_u8s8_rr no-spin', f"{t('/tmp/ortx/qdq_u8s8_rr.onnx', **{'session.intra_op.allow_spinning': '0'}):.1f}")
print('fp32 pre', f"{t('/tmp/ortx/pre.onnx'):.1f}")
