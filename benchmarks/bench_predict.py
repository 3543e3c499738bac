"""Model.predict on the cat images (209) and the tall synthetic set (100,000).

The model keeps its initial parameters (prediction time does not depend on them);
setup predicts once, so compilation is never timed.
"""
from . import common


class Predict:
    params = [["cat", "tall"], common.DTYPES, common.ENGINES]
    param_names = ["workload", "dtype", "engine"]

    def setup(self, workload, dtype, engine):
        self.model, self.X, _ = common.workload(workload, dtype, engine)
        self.model.predict(self.X)

    def time_predict(self, workload, dtype, engine):
        self.model.predict(self.X)
