/* kernels_ref.c: to be written */
