/**
 * What `dubbo-mesh generate` warns about (and `--strict` refuses): rules that select nothing. Valid YAML
 * that routes nowhere is almost always a typo in an interface name or a label, and the generated
 * configuration would silently ignore it.
 *
 * - a rule that matches no service of the registry, or only services an earlier rule already took
 *   (the first matching rule applies);
 * - a subset whose labels select no endpoint of a service the rule applies to (requests routed to it
 *   would find no upstream).
 */
import { type MeshModel, endpointInSubset, ruleMatches } from "./model/model.js";
import type { DubboRoute } from "./rules/types.js";

function ruleName(rule: DubboRoute): string {
  const version = rule.version ? `, version ${rule.version}` : "";
  const group = rule.group ? `, group ${rule.group}` : "";
  return `rule '${rule.name}' (interface ${rule.interface}${version}${group})`;
}

function labelsText(labels: Record<string, string>): string {
  return `{${Object.entries(labels).map(([k, v]) => `${k}: ${v}`).join(", ")}}`;
}

/** One message per rule that applies to no service and per (service, subset) that selects no endpoint. */
export function ruleCoverageWarnings(model: MeshModel, rules: readonly DubboRoute[]): string[] {
  const warnings: string[] = [];
  for (const rule of rules) {
    if (model.services.some((s) => s.rule === rule)) continue;
    const shadowedBy = model.services.find((s) => ruleMatches(rule, s.interface, s.version, s.group))?.rule;
    warnings.push(
      shadowedBy
        ? `${ruleName(rule)} applies to no service: the services it matches take the earlier rule '${shadowedBy.name}'`
        : `${ruleName(rule)} matches no service in the registry`,
    );
  }
  for (const service of model.services) {
    for (const subset of service.subsets) {
      if (service.endpoints.some((e) => endpointInSubset(e, subset))) continue;
      warnings.push(`service ${service.key}: subset '${subset.name}' of rule '${service.rule!.name}' (labels ${labelsText(subset.labels)}) selects no endpoint`);
    }
  }
  return warnings;
}
