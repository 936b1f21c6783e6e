import { NAME_BYTES_MAX } from './constants.js';

/** User names: 1 to 32 characters from letters, digits and `_ . @ -`, not starting with a dot or dash. */
const NAME = /^[A-Za-z0-9_@][A-Za-z0-9_.@-]{0,31}$/;

export const NAME_RULE = `1 to ${NAME_BYTES_MAX} characters: letters, digits, '_', '.', '@', '-' (not first: '.', '-')`;

export const isValidName = (name: string): boolean => NAME.test(name);
