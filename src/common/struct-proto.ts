/**
 * google.protobuf.Struct and its Value, ListValue and NullValue as protobufjs JSON (the well-known types'
 * field numbers), for descriptors built in code: the Istio CA API's metadata and the Workload API's claims.
 */
export const GOOGLE_PROTOBUF_STRUCT = {
  nested: {
    protobuf: {
      nested: {
        Struct: { fields: { fields: { keyType: 'string', type: 'Value', id: 1 } } },
        Value: {
          oneofs: { kind: { oneof: ['null_value', 'number_value', 'string_value', 'bool_value', 'struct_value', 'list_value'] } },
          fields: {
            null_value: { type: 'NullValue', id: 1 },
            number_value: { type: 'double', id: 2 },
            string_value: { type: 'string', id: 3 },
            bool_value: { type: 'bool', id: 4 },
            struct_value: { type: 'Struct', id: 5 },
            list_value: { type: 'ListValue', id: 6 },
          },
        },
        ListValue: { fields: { values: { rule: 'repeated', type: 'Value', id: 1 } } },
        NullValue: { values: { NULL_VALUE: 0 } },
      },
    },
  },
} as const;
