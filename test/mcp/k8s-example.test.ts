/** examples/k8s/control-plane.yaml stays true to the code: its rules load, and it serves xDS as docs/istio-mcp.md says. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../common/paths.js";
import { parseRules } from "../../control/rules/load.js";

const docs = parseAllDocuments(readFileSync(join(packageRoot, "examples", "k8s", "control-plane.yaml"), "utf8")).map((d) => d.toJS() as unknown);

/** The value at a path of keys and indexes in a parsed document (undefined when absent). */
function at(value: unknown, ...path: (string | number)[]): unknown {
  for (const key of path) value = typeof value === "object" && value !== null ? (value as Record<string | number, unknown>)[key] : undefined;
  return value;
}
const byKind = (kind: string): unknown => docs.find((d) => at(d, "kind") === kind);

describe("examples/k8s/control-plane.yaml", () => {
  it("the rules in its ConfigMap are valid DubboRoutes", () => {
    const rules = parseRules(at(byKind("ConfigMap"), "data", "rules.yaml") as string, "control-plane.yaml ConfigMap");
    expect(rules.map((r) => r.interface)).toEqual(["org.apache.dubbo.demo.DemoService"]);
  });

  it("replicas behind one Service on the xDS port, bound to all addresses inside the pod, admin on loopback", () => {
    const deployment = byKind("Deployment");
    expect(at(deployment, "spec", "replicas")).toBeGreaterThan(1);
    const container = at(deployment, "spec", "template", "spec", "containers", 0);
    expect(at(container, "args")).toEqual(expect.arrayContaining(["control", "--mcp", "--xds=0.0.0.0:18000", "--admin=127.0.0.1:9902"]));
    const service = byKind("Service");
    expect(at(service, "metadata")).toMatchObject({ name: "dubbo-mesh-control", namespace: "dubbo-mesh" });
    expect(at(service, "spec", "selector")).toEqual(at(deployment, "spec", "selector", "matchLabels"));
    expect(at(service, "spec", "ports")).toEqual([expect.objectContaining({ port: 18000, targetPort: "grpc-xds" })]);
    expect(at(container, "ports")).toEqual([{ name: "grpc-xds", containerPort: 18000 }]);
  });
});
