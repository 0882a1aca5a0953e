import time, numpy as np
from ai_edge_litert.interpreter import Interpreter
def t(path, **kw):
    it = Interpreter(model_path=path, num_threads=2, **kw); it.allocate_tensors()
    d = it.get_input_details()[0]; x = np.zeros(d['shape'], d['dtype'])
    for _ in range(5): it.set_tensor(d['index'], x); it.invoke()
    ts = []
    for _ in range(30):
        a = time.perf_counter(); it.set_tensor(d['index'], x); it.invoke(); ts.append(time.perf_counter() - a)
    return np.median(ts) * 1e3
for lab in ('tflite_static_wi8_ai8_int8io', 'tflite_fp32'):
    p = f'/root/edgeseg-runs/export_256/{lab}/model.tflite'
    print(lab, 'default', f"{t(p):.1f}", 'latest', f"{t(p, experimental_default_delegate_latest_features=True):.1f}")
