"""``python -m studies.pixel_policy``: see ``studies/pixel_policy/study.py`` and its README."""

import sys

from studies.harness import study_main
from studies.pixel_policy import study

if __name__ == "__main__":
    sys.exit(study_main(study.PixelPolicyStudy, study.__doc__))
