import sys, time, glob, numpy as np, onnxruntime as ort
from onnxruntime.quantization import quantize_static, QuantFormat, QuantType, CalibrationDataReader
from edgeseg.quantize.calibration import calibration_array
from edgeseg.config import Normalisation
from edgeseg.export.onnx import _preprocess
from pathlib import Path
fp32 = Path('/root/edgeseg-runs/export_256/onnx_fp32/model.onnx')
imgs = sorted(glob.glob('edgeseg/assets/isic2017_sample/train/images/*.jpg'))[:32]
cal = calibration_array([Path(p) for p in imgs], (256, 256), Normalisation())
pre = _preprocess(fp32, Path('/tmp/ortx/pre.onnx'))
name = ort.InferenceSession(str(pre)).get_inputs()[0].name
class R(CalibrationDataReader):
    def __init__(s): s.it = iter([{name: cal[i:i+1]} for i in range(len(cal))])
    def get_next(s): return next(s.it, None)
variants = {
  'qdq_u8s8_rr': dict(quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=True),
  'qop_u8s8_rr': dict(quant_format=QuantFormat.QOperator, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=True),
  'qdq_s8s8': dict(quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, reduce_range=False),
  'qop_u8u8': dict(quant_format=QuantFormat.QOperator, activation_type=QuantType.QUInt8, weight_type=QuantType.QUInt8, reduce_range=False),
}
for k, v in variants.items():
    quantize_static(str(pre), f'/tmp/ortx/{k}.onnx', R(), per_channel=True, **v)
print('written')
