/* model.c: to be written */
