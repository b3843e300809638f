// The Dubbo 2 codec: a streaming frame decoder over a Hessian 2 reader, and the encoder for what the
// filter writes. This file is the codec's public API; the filter and router import from here only.
//
//   Decode (zero-copy; the caller owns the bytes):
//     const decoder = new Decoder();                 // one per connection direction; reuse it
//     decoder.options.maxBodyBytes = config.maxBodyBytes;
//     decoder.options.maxArgs = 2;                   // record the first 2 arguments for routing
//     const st = decoder.decode(ptr, len);           // ptr: address of the frame's first byte
//     switch (st) {
//       case DecodeStatus.NeedMore: keep the bytes, call again from the same start when more arrive
//       case DecodeStatus.Done:     const f = decoder.frame; f.length bytes are this frame;
//                                   f.kind, f.requestId, f.twoWay, f.serviceEquals("..."), f.method(),
//                                   f.attachment("dubbo.tag"), f.argument(0), ...; next frame at ptr + f.length
//       case DecodeStatus.Error:    decoder.errorMessage() names the problem and the byte offset
//     }
//   The Frame's string getters read the frame bytes on demand (see Frame): use them before the bytes
//   at ptr are released or changed.
//
//   Encode (into the encoder's own reused buffer; read encoder.ptr() / encoder.length, or toBytes()):
//     encoder.heartbeatReply(f.requestId, f.serialization)
//     encoder.errorResponse(f.requestId, STATUS_SERVICE_NOT_FOUND, "no destination for ...")
//     encoder.rewriteRequestWith(f, "x-dubbo-mesh-cluster", cluster)   // a complete new frame
//
// Non-hessian2 serialization ids give a header-level result (frame.bodyDecoded == false). Nothing in
// the codec calls the host, traps or aborts on any input.

export { DecodeStatus, Decoder, DecoderOptions, MAX_ATTACHMENTS } from "./decoder";
export {
  Frame, FrameKind, frameKindName, HEADER_LENGTH, MAGIC, FLAG_REQUEST, FLAG_TWO_WAY, FLAG_EVENT,
  SERIALIZATION_MASK, SERIALIZATION_HESSIAN2, DEFAULT_MAX_BODY_BYTES,
  STATUS_OK, STATUS_CLIENT_TIMEOUT, STATUS_SERVER_TIMEOUT, STATUS_BAD_REQUEST, STATUS_BAD_RESPONSE,
  STATUS_SERVICE_NOT_FOUND, STATUS_SERVICE_ERROR, STATUS_SERVER_ERROR, STATUS_CLIENT_ERROR,
  RESPONSE_WITH_EXCEPTION, RESPONSE_VALUE, RESPONSE_NULL_VALUE, RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS,
  RESPONSE_VALUE_WITH_ATTACHMENTS, RESPONSE_NULL_VALUE_WITH_ATTACHMENTS,
} from "./frame";
export { Encoder } from "./encoder";
export { CodecError, Field, codecErrorMessage } from "./errors";
export { HessianReader, MAX_DEPTH, MAX_CLASS_DEFINITIONS, hessianStringAt, hessianStringEquals, hessianScalarTextAt } from "./hessian";
