/* builder.c: to be written */
