"""A pyfunc model whose behaviour is set by its model_config: the faults the infrastructure check must catch.

Logged as "models from code": MLflow copies this file next to the model and runs it in the server, so the
server needs nothing from the test suite. Keys of model_config:
  delay_s        sleep this long in every predict (a known latency)
  load_sleep_s   sleep this long while loading (a server that never becomes healthy)
  fail_load      raise while loading
  fail_once      raise while loading if this file exists, deleting it (a transient failure)
  raise          raise in predict
  wrong_shape    answer half as many rows as asked
  crash_after    os._exit(3) on predict call number N+1 (a server that dies mid-test)
  serving_skew   add 0.5 to every answer when running inside MLflow's scoring server
  token_probe    answer the length of $GITHUB_TOKEN as seen by the model (0 when the bot hid it)
  chatty         print to stdout in every predict (noise a host protocol must survive)
Healthy answer: 2 * x + y for every row.
"""

import os
import time

import mlflow


class Behaviour(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.config = dict(context.model_config or {})
        self.calls = 0
        if self.config.get("fail_load"):
            raise RuntimeError("behaviour model: refusing to load (fail_load)")
        marker = self.config.get("fail_once")
        if marker and os.path.exists(marker):
            os.remove(marker)
            raise RuntimeError("behaviour model: failing this once (fail_once)")
        time.sleep(float(self.config.get("load_sleep_s", 0)))

    def predict(self, context, model_input, params=None):
        self.calls += 1
        config = self.config
        crash_after = config.get("crash_after")
        if crash_after is not None and self.calls > int(crash_after):
            os._exit(3)
        if config.get("raise"):
            raise ValueError("behaviour model: predict failed on purpose (raise)")
        delay = float(config.get("delay_s", 0))
        if delay:
            time.sleep(delay)
        answer = (2 * model_input["x"] + model_input["y"]).astype("float64").to_numpy()
        if config.get("serving_skew") and os.environ.get("_MLFLOW_IS_IN_SERVING_ENVIRONMENT") == "true":
            answer = answer + 0.5
        if config.get("chatty"):
            print("behaviour model: predicting", len(model_input), "rows")
        if config.get("token_probe"):
            answer = answer * 0 + len(os.environ.get("GITHUB_TOKEN", ""))
        if config.get("wrong_shape"):
            answer = answer[: max(1, len(answer) // 2)]
        return answer


mlflow.models.set_model(Behaviour())
