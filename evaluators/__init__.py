"""Evaluators: cost models (static counts, latency, MCU memory, MPC) and training on real tasks.

An evaluator maps an architecture to a dict of metrics with fixed units (``METRIC_UNITS``,
docs/interfaces.md §5); ``Compose`` merges several into one trial. ``predict`` prices
architectures on a named device (../shared/contract.md).
"""

from __future__ import annotations

from evaluators._base import METRIC_UNITS
from evaluators._base import BaseEvaluator
from evaluators._base import Compose
from evaluators._base import Metrics
from evaluators._calibrate import calibrate
from evaluators._calibrate import measure_latencies
from evaluators._calibrate import measure_latency_ms
from evaluators._calibrate import measure_latency_stats
from evaluators._calibrate import sample_calibration_archs
from evaluators._direct import MeasuredLatencyEvaluator
from evaluators._direct import StaticCostEvaluator
from evaluators._errors import EvaluatorError
from evaluators._errors import NotCalibratedError
from evaluators._export import EXPORT_FORMATS
from evaluators._export import WEIGHTS_SUFFIX
from evaluators._export import artifact_root
from evaluators._export import export_model
from evaluators._export import load_weights
from evaluators._export import onnx_run
from evaluators._export import save_weights
from evaluators._kernel_model import KernelLatencyModel
from evaluators._latency import LatencyModel
from evaluators._mcu import CODE_FLASH_BYTES
from evaluators._mcu import MCU_BOARDS
from evaluators._mcu import MCUBoard
from evaluators._mcu import MCUMemoryModel
from evaluators._mcu import mcuformer_proxy_sram
from evaluators._mpc import MPC_NETWORKS
from evaluators._mpc import MPCCostModel
from evaluators._mpc import MPCNetwork
from evaluators._mpc import fit_mpc_compute
from evaluators._mpc import fit_mpc_network
from evaluators._mpc import mpc_breakdown
from evaluators._onnxruntime import measure_onnxruntime_ms
from evaluators._onnxruntime import measure_onnxruntime_stats
from evaluators._predict import DEVICES
from evaluators._predict import CostEvaluator
from evaluators._predict import device_metrics
from evaluators._predict import load_latency_model
from evaluators._predict import predict
from evaluators._spaces import calibration_spaces
from evaluators._static import layer_costs
from evaluators._static import static_costs
from evaluators._tasks import TASKS
from evaluators._tasks import AssociativeRecallTask
from evaluators._tasks import BaseTask
from evaluators._tasks import DigitsTask
from evaluators._tasks import ListOpsTask
from evaluators._tasks import StdlibLMTask
from evaluators._train import TrainEvaluator
from evaluators._train import TrainResult
from evaluators._train import train
from evaluators._train import warm_start

__all__ = [
    "CODE_FLASH_BYTES",
    "DEVICES",
    "EXPORT_FORMATS",
    "MCU_BOARDS",
    "METRIC_UNITS",
    "MPC_NETWORKS",
    "TASKS",
    "WEIGHTS_SUFFIX",
    "AssociativeRecallTask",
    "BaseEvaluator",
    "BaseTask",
    "Compose",
    "CostEvaluator",
    "DigitsTask",
    "EvaluatorError",
    "KernelLatencyModel",
    "LatencyModel",
    "ListOpsTask",
    "MCUBoard",
    "MCUMemoryModel",
    "MeasuredLatencyEvaluator",
    "Metrics",
    "MPCCostModel",
    "MPCNetwork",
    "NotCalibratedError",
    "StaticCostEvaluator",
    "StdlibLMTask",
    "TrainEvaluator",
    "TrainResult",
    "artifact_root",
    "calibrate",
    "calibration_spaces",
    "device_metrics",
    "export_model",
    "fit_mpc_compute",
    "fit_mpc_network",
    "layer_costs",
    "load_latency_model",
    "load_weights",
    "mcuformer_proxy_sram",
    "measure_latencies",
    "measure_latency_stats",
    "measure_onnxruntime_ms",
    "measure_onnxruntime_stats",
    "measure_latency_ms",
    "mpc_breakdown",
    "onnx_run",
    "predict",
    "sample_calibration_archs",
    "save_weights",
    "static_costs",
    "train",
    "warm_start",
]
