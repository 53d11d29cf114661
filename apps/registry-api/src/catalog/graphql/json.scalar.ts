import { GraphQLScalarType, valueFromASTUntyped } from 'graphql';

/**
 * Arbitrary JSON (an adapter_config.json, metrics). PEFT configs keep unknown keys, so they cannot
 * be a fixed object type; clients get the object exactly as uploaded.
 */
export const JsonScalar = new GraphQLScalarType({
  name: 'JSON',
  description: 'Any JSON value',
  serialize: (value: unknown) => value,
  parseValue: (value: unknown) => value,
  parseLiteral: (ast) => valueFromASTUntyped(ast),
});
