"""`python -m bot.deploy.smoke URI ROWS.json`: load a model by URI and answer sample rows, printing a JSON
summary (how many answers, whether every numeric answer is finite).

It runs in a child process with a timeout (see verify.py): a model is code that may hang or crash, and the
deploy job must survive both to record what happened.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    uri, rows_path = argv
    import mlflow.pyfunc
    import numpy as np
    import pandas as pd

    frame = pd.read_json(rows_path, orient="split")
    answers = np.asarray(mlflow.pyfunc.load_model(uri).predict(frame))
    count = int(answers.shape[0]) if answers.ndim else 1
    finite = bool(np.isfinite(answers).all()) if np.issubdtype(answers.dtype, np.number) else True
    json.dump({"rows": len(frame), "answers": count, "finite": finite}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
