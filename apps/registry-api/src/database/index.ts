export { DatabaseService, NestedTransactionError, type Tx } from './database.service';
export { EMBEDDING_DIMENSIONS, parseVector, vectorLiteral, VectorShapeError } from './vectors';
