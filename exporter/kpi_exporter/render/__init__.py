"""What ``kpi-exporter render`` writes from the catalogue: rule files and runbooks
(``bundle``, ``runbooks``), the dashboards (``dashboards``), the Helm chart's rule file
(``helm``) and the metric reference and configuration schema (``reference``). Nothing here
runs in the exporter process."""
