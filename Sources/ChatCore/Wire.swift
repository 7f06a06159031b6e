// The wire types (JSON values, the JSON writer, stored items and their codec)
// live in ChatWire, a leaf module the stores and the AWS clients share; every
// user of the domain sees them through ChatCore.
@_exported import ChatWire
