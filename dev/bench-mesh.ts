/**
 * The mesh the control-plane benchmarks build (bench:control, bench:xds): services `com.example.bench.ServiceN`
 * and one DubboRoute that applies to all of them (two subsets, three routes, a deny rule), so every service
 * has three Clusters and three ClusterLoadAssignments.
 */
export const BENCH_RULES = `
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: bench}
spec:
  interface: com.example.bench.*
  subsets:
    - {name: v1, labels: {revision: v1}}
    - {name: v2, labels: {revision: v2}}
  routes:
    - {name: gray, match: {attachments: {dubbo.tag: {exact: gray}}}, route: [{subset: v2}]}
    - {name: method, match: {method: {prefix: get}}, route: [{subset: v1}]}
    - {name: split, route: [{subset: v1, weight: 90}, {subset: v2, weight: 10}]}
  deny: [{method: {prefix: delete}}]
`;

/** The interface of bench service `service`. */
export const benchInterface = (service: number): string => `com.example.bench.Service${service}`;
