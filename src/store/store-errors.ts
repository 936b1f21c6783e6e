/** The store cannot be opened: a bad data directory, a file that is not ours, one in use. One line for the user. */
export class StoreOpenError extends Error {}
