// Validates prometheus-operator objects against the CRD schemas, as compiled by the npm
// package @kubernetes-models/prometheus-operator. Reads a JSON array of objects on stdin and
// writes a JSON array on stdout: one {kind, name, error} per object, error null when valid.
import { readFileSync } from "node:fs";
import { PodMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

const models = { PodMonitor, PrometheusRule, ServiceMonitor };
const objects = JSON.parse(readFileSync(0, "utf8"));
const results = objects.map((object) => {
  const name = object.metadata?.name ?? "";
  const Model = models[object.kind];
  if (object.apiVersion !== "monitoring.coreos.com/v1" || !Model) {
    return { kind: object.kind, name, error: `no schema for ${object.apiVersion} ${object.kind}` };
  }
  try {
    new Model(object).validate();
    return { kind: object.kind, name, error: null };
  } catch (error) {
    return { kind: object.kind, name, error: String(error.message ?? error) };
  }
});
process.stdout.write(JSON.stringify(results));
