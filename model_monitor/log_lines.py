"""Where each analyzer log line comes from, as the real analyzer prints it: `Class:line`.

The line numbers are the ones in the real logs (shared/reference/real-analyzer): the 2022
container's where its baseline log shows the line (churn-baseline/notebook-outputs), the
2020 container's for lines only a monitoring log shows (dsaw-nw-traffic-monitoring). They
differ between container versions; which version a user's account runs is not knowable.
"""

from __future__ import annotations

USING_BASELINE_COLUMNS = "DataAnalyzer:79"  # 2020
GENERATING_CONSTRAINTS = "ConstraintGenerator:45"  # 2022 (46 in 2020)
CONSTRAINTS = "ConstraintGenerator:50"  # 2022 (51 in 2020)
GENERATING_STATS = "StatsGenerator:65"  # 2022 (67 in 2020)
STATS = "StatsGenerator:70"  # 2022 (72 in 2020)
WRITE_FILE = "FileUtil:29"  # both
EVALUATING_CONSTRAINTS = "ConstraintGenerator:61"  # 2020
DISTANCE = "DistanceGenerator:63"  # 2020
EVALUATING_STATS = "StatsGenerator:86"  # 2020
VIOLATIONS = "DataAnalyzer:148"  # 2020
COMPLETED = "Main:65"  # 2022 (47 in 2020)
COMPLETED_WITH_VIOLATIONS = "Main:53"  # 2020 (no 2022 sample)
WRITE_MESSAGE = "Main:141"  # 2022 (115 in 2020)
MODEL_QUALITY = "ModelQualityAnalyzer"  # smlocal's: no real model-quality log is public
