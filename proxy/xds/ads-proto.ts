/**
 * The ADS service (`envoy.service.discovery.v3.AggregatedDiscoveryService`) loaded with `@grpc/proto-loader`
 * from the Envoy protos `@grpc/grpc-js-xds` ships (`deps/`, the include folders of `envoy-protos.ts`), and the
 * plain-object shapes of its messages as proto-loader gives and takes them (proto field names, `Any` as
 * `{type_url, value}`, enums as names). The resources inside the `Any`s are decoded by `xds-resources.ts`.
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { envoyProtoIncludeDirs } from "../../control/generate/xds/envoy-protos.js";

/** `google.protobuf.Any` as proto-loader decodes it. */
export interface AnyMessage {
  type_url: string;
  value: Buffer | Uint8Array;
}

/** `google.rpc.Status`: the `error_detail` of a NACK. */
export interface RpcStatus {
  code: number;
  message: string;
}

/**
 * `google.protobuf.Struct` in its protobuf form (`{fields: {k: {stringValue: …}}}`). The well-known types come
 * from protobufjs' bundled definitions, whose field names are lowerCamel whatever `keepCase` says.
 */
export interface StructMessage {
  fields: Record<string, ValueMessage>;
}
export type ValueMessage =
  | { nullValue: "NULL_VALUE" }
  | { numberValue: number }
  | { stringValue: string }
  | { boolValue: boolean }
  | { structValue: StructMessage }
  | { listValue: { values: ValueMessage[] } };

/** `envoy.config.core.v3.Node`, the fields the client sets. */
export interface NodeMessage {
  id: string;
  cluster: string;
  user_agent_name: string;
  user_agent_version: string;
  metadata: StructMessage;
}

export interface DiscoveryRequest {
  version_info?: string;
  node?: NodeMessage;
  resource_names?: string[];
  type_url: string;
  response_nonce?: string;
  error_detail?: RpcStatus;
}

export interface DiscoveryResponse {
  version_info?: string;
  resources?: AnyMessage[];
  type_url?: string;
  nonce?: string;
}

export interface DeltaDiscoveryRequest {
  node?: NodeMessage;
  type_url: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: RpcStatus;
}

/** `envoy.service.discovery.v3.Resource` of a Delta response. */
export interface DeltaResource {
  name?: string;
  version?: string;
  resource?: AnyMessage;
  aliases?: string[];
}

export interface DeltaDiscoveryResponse {
  system_version_info?: string;
  resources?: DeltaResource[];
  type_url?: string;
  removed_resources?: string[];
  nonce?: string;
}

/** The proto-loader options: proto field names, enums as names, 64-bit integers as strings, no defaults. */
const loaderOptions: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: false,
  includeDirs: [...envoyProtoIncludeDirs],
};

interface AdsService {
  service: grpc.ServiceDefinition;
  client: grpc.ServiceClientConstructor;
}

/**
 * Loads ads.proto (and what it imports) and returns the service definition — for `grpc.Server.addService` —
 * and the client constructor. Loading takes about 0.2 s; callers keep the result (one per client or server).
 */
export function loadAdsService(): AdsService {
  const definition = protoLoader.loadSync("envoy/service/discovery/v3/ads.proto", loaderOptions);
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    envoy: { service: { discovery: { v3: { AggregatedDiscoveryService: grpc.ServiceClientConstructor } } } };
  };
  const client = pkg.envoy.service.discovery.v3.AggregatedDiscoveryService;
  return { service: client.service, client };
}
