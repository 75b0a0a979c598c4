/* sha256.c: to be written */
