"""Run by the multi-process test under paddle.distributed.launch: evaluates the corrupted
oracle on the tiny dataset and writes the results (rank 0) to the JSON file given."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from paddleseg_panoptic.core.evaluate import evaluate  # noqa: E402  (imports cv2 before paddle)
from paddleseg_panoptic.evaluation.report import write_json  # noqa: E402
import paddle  # noqa: E402

from evaluation_toys import OracleModel, TinyDataset  # noqa: E402


def main(out_path):
    paddle.set_device("cpu")
    results = evaluate(OracleModel(), TinyDataset(count=5, corrupt=0.15), threshold=0.1,
                       nms_kernel=3, top_k=200, print_detail=False)
    results.pop("seconds")
    results["world_size"] = paddle.distributed.get_world_size()
    if paddle.distributed.get_rank() == 0:
        write_json(results, out_path)


if __name__ == "__main__":
    main(sys.argv[1])
