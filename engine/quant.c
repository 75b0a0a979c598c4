/* quant.c: to be written */
