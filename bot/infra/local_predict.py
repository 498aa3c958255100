"""`python -m bot.infra.local_predict URI FRAME.pkl OUT.json`: the model's in-process answer for a frame,
written with the serving server's own JSON encoder so parity compares like with like.

It runs in a child process (see parity.py): a model is untrusted code that may hang, crash or exhaust
memory, and the bot must survive all three.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    uri, frame_path, out_path = argv
    import mlflow.pyfunc
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]  # no stubs for pandas
    from mlflow.pyfunc.scoring_server import predictions_to_json

    frame = pd.read_pickle(frame_path)
    raw = mlflow.pyfunc.load_model(uri).predict(frame)
    with open(out_path, "w", encoding="utf-8") as out:
        predictions_to_json(raw, out)  # type: ignore[no-untyped-call, unused-ignore]  # MLflow's scoring helper is untyped
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
