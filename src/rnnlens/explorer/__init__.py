"""The explorer: models in the browser (``rnnlens explore``) and export to LSTMVis (``rnnlens export-lstmvis``).

``sources`` gathers what is shown of each model (trace, predictions,
discovered cells), ``matching`` is LSTMVis's select-and-match rule in NumPy,
``params`` checks the API's query parameters, ``app`` is the ASGI app and its
server, ``lstmvis`` writes a trace in LSTMVis's files, and ``static/`` holds
the page (plain HTML, CSS and JavaScript: nothing to build, nothing fetched
from elsewhere).
"""
