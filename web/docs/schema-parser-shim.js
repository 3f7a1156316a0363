// Stands in for the AsyncAPI component's Avro, OpenAPI and Protobuf schema parsers: the server's
// document uses the default schema format only.
const none = () => ({});
export const AvroSchemaParser = none;
export const OpenAPISchemaParser = none;
export const ProtoBuffSchemaParser = none;
