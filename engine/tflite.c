/* tflite.c: to be written */
