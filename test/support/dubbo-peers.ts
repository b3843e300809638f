/**
 * Real Dubbo peers for tests: the product's sofa-rpc-node + dubbo-remoting helpers, which the demo
 * uses too (proxy/demo/dubbo-peers.ts has the API and its notes). Re-exported here so the suites keep
 * importing from test/support.
 */
export * from "../../proxy/demo/dubbo-peers.js";
