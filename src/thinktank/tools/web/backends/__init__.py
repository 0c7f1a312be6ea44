"""Search backends, one module each: ``searxng``, ``tavily``, ``brave``, ``serper``,
``duckduckgo`` (the ``search`` extra) and ``local`` (BM25 over a corpus). The
contract is :class:`~thinktank.tools.web.backends.base.SearchBackend`."""
