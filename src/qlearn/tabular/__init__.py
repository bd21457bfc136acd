"""Tabular learners: pure update rules (:mod:`~qlearn.tabular.rules`), one compiled loop
that drives them over many seeds (:mod:`~qlearn.tabular.loop`), learning from logged
data (:mod:`~qlearn.tabular.offline`), and narrated updates
(:mod:`~qlearn.tabular.explain`). They compute; they write no files and draw nothing."""
