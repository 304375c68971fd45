"""The web studio behind `gigagan serve`: a gradio page and API over a loaded model.

`service` (the `Studio`: requests, admission, files), `checks` (request values) and `card` (the model card)
need no gradio; `app` builds the page and serves it (imports gradio); `process` runs `gigagan serve` in a
child process (tests, benchmarks, screenshots).
"""

from gigagan.web.checks import Limits
from gigagan.web.service import BUSY_MESSAGE, ServerBusy, Studio

__all__ = ["BUSY_MESSAGE", "Limits", "ServerBusy", "Studio"]
