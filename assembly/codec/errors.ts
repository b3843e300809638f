// Error values of the codec. The hot path records only a code, the frame offset and one number; the
// message is built on demand by codecErrorMessage(), so decoding valid frames never builds strings.

/** What went wrong. `None` means no error. */
export const enum CodecError {
  None = 0,
  /** bytes 0-1 are not 0xdabb (value: the two bytes, or MAGIC_ONE_BYTE | the first byte when only it was there). */
  BadMagic = 1,
  /** the header's body length is negative (value: the length). */
  NegativeBodyLength = 2,
  /** the header's body length exceeds the configured maximum (value: the length). */
  BodyTooLarge = 3,
  /** a value runs past the end of the body. */
  Truncated = 4,
  /** a Hessian lead byte that the grammar reserves or that cannot start a value here (value: the byte). */
  InvalidByte = 5,
  /** a Hessian 'Z' where a value was expected. */
  UnexpectedEnd = 6,
  /** a string chunk 'R' not followed by another string chunk (value: the byte found). */
  BadStringChunk = 7,
  /** a binary chunk 'A' not followed by another binary chunk (value: the byte found). */
  BadBinaryChunk = 8,
  /** a string byte that is not a 1-3 byte UTF-8 lead (value: the byte). */
  BadUtf8 = 9,
  /** a declared length (list, class field count) larger than the bytes left or negative (value: the length). */
  BadLength = 10,
  /** a back-reference 'Q' to an object not yet read in this body (value: the index). */
  RefOutOfRange = 11,
  /** a type reference to a type not yet defined in this body (value: the index). */
  TypeRefOutOfRange = 12,
  /** an object instance naming a class definition not yet read in this body (value: the index). */
  ClassRefOutOfRange = 13,
  /** containers nested deeper than MAX_DEPTH (value: the depth). */
  TooDeep = 14,
  /** a Hessian value of the wrong kind for a frame field (value: the lead byte). */
  UnexpectedType = 15,
  /** the parameter-type descriptor is not a JVM descriptor list (value: index of the bad character). */
  BadDescriptor = 16,
  /** a response flag outside 0-5 (value: the flag). */
  BadResponseFlag = 17,
  /** a request or response (not an event) with an empty body. */
  EmptyBody = 18,
  /** an int or long value outside the range that field allows (value: the number). */
  BadNumber = 19,
  /** more attachment entries than MAX_ATTACHMENTS (value: the limit). */
  TooManyAttachments = 20,
  /** more class definitions in one body than MAX_CLASS_DEFINITIONS (value: the limit). */
  TooManyClasses = 21,
}

/** Which part of the frame was being read when an error happened. */
export const enum Field {
  Header = 0,
  DubboVersion = 1,
  Service = 2,
  Version = 3,
  Method = 4,
  ParameterTypes = 5,
  Argument = 6,
  Attachments = 7,
  ResponseFlag = 8,
  ResponseValue = 9,
  ErrorMessage = 10,
  EventData = 11,
  Body = 12,
}

export function fieldName(field: Field): string {
  switch (field) {
    case Field.Header: return "header";
    case Field.DubboVersion: return "dubbo version";
    case Field.Service: return "service path";
    case Field.Version: return "service version";
    case Field.Method: return "method name";
    case Field.ParameterTypes: return "parameter types";
    case Field.Argument: return "argument";
    case Field.Attachments: return "attachments";
    case Field.ResponseFlag: return "response flag";
    case Field.ResponseValue: return "response value";
    case Field.ErrorMessage: return "error message";
    case Field.EventData: return "event data";
    default: return "body";
  }
}

function hex(v: i64): string {
  return "0x" + (<u64>v & 0xff).toString(16).padStart(2, "0");
}

/** Marks a BadMagic value that holds only the first byte (the second had not arrived). */
export const MAGIC_ONE_BYTE: i64 = 0x10000;

/**
 * A one-line English message naming the problem, the frame field and the byte offset: from the frame start,
 * or, with `frameStart` >= 0, in the stream whose byte `frameStart` starts the frame.
 */
export function codecErrorMessage(code: CodecError, field: Field, offset: i32, value: i64, frameStart: i64 = -1): string {
  const at = frameStart >= 0 ? " at stream offset " + (frameStart + <i64>offset).toString() : " at offset " + offset.toString();
  const where = " in " + fieldName(field) + at;
  switch (code) {
    case CodecError.None: return "";
    case CodecError.BadMagic:
      if ((value & MAGIC_ONE_BYTE) != 0) return "invalid dubbo magic: first byte 0x" + (<u64>value & 0xff).toString(16).padStart(2, "0") + " (expected 0xdabb)" + at;
      return "invalid dubbo magic 0x" + (<u64>value & 0xffff).toString(16).padStart(4, "0") + " (expected 0xdabb)" + at;
    case CodecError.NegativeBodyLength: return "negative body length " + value.toString() + at;
    case CodecError.BodyTooLarge: return "body length " + value.toString() + " exceeds the maximum" + at;
    case CodecError.Truncated: return "value runs past the end of the body" + where;
    case CodecError.InvalidByte: return "invalid hessian byte " + hex(value) + where;
    case CodecError.UnexpectedEnd: return "unexpected end marker 'Z' where a value was expected" + where;
    case CodecError.BadStringChunk: return "string chunk followed by " + hex(value) + " instead of another chunk" + where;
    case CodecError.BadBinaryChunk: return "binary chunk followed by " + hex(value) + " instead of another chunk" + where;
    case CodecError.BadUtf8: return "invalid UTF-8 lead byte " + hex(value) + " in string" + where;
    case CodecError.BadLength: return "declared length " + value.toString() + " is negative or exceeds the bytes left" + where;
    case CodecError.RefOutOfRange: return "back-reference " + value.toString() + " to an object not yet read" + where;
    case CodecError.TypeRefOutOfRange: return "type reference " + value.toString() + " to an undefined type" + where;
    case CodecError.ClassRefOutOfRange: return "object of undefined class definition " + value.toString() + where;
    case CodecError.TooDeep: return "values nested deeper than " + (value - 1).toString() + " levels" + where;
    case CodecError.UnexpectedType: return "unexpected hessian value " + hex(value) + where;
    case CodecError.BadDescriptor: return "invalid parameter-type descriptor at character " + value.toString() + where;
    case CodecError.BadResponseFlag: return "response flag " + value.toString() + " is not 0-5" + where;
    case CodecError.EmptyBody: return "empty body" + where;
    case CodecError.BadNumber: return "number " + value.toString() + " out of range" + where;
    case CodecError.TooManyAttachments: return "more than " + value.toString() + " attachments" + where;
    case CodecError.TooManyClasses: return "more than " + value.toString() + " class definitions in one body" + where;
    default: return "decode error" + where;
  }
}
