/* rd_clock lives in rd.h here. */
