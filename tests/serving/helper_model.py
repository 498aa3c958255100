"""A pyfunc model (logged as "models from code") that answers 2x + y, for the failover tests. Keys of model_config:
  delay_s        sleep this long in every predict (requests are in flight when the test kills the process)
  load_sleep_s   sleep this long while loading (a restart takes at least this long)
  helper         fork a helper process at load, which holds every descriptor of the model's, its answers' pipe
                 among them (as a worker pool started by fork does): the pipe stays open after the model dies
"""

import os
import time

import mlflow


class Helper(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.config = dict(context.model_config or {})
        time.sleep(float(self.config.get("load_sleep_s", 0)))
        if self.config.get("helper") and os.fork() == 0:  # the helper: killed with the model's process group
            time.sleep(600)
            os._exit(0)

    def predict(self, context, model_input, params=None):
        time.sleep(float(self.config.get("delay_s", 0)))
        return (2 * model_input["x"] + model_input["y"]).astype("float64").to_numpy()


mlflow.models.set_model(Helper())
