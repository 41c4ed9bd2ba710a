#include "worker/service.h"

int main(int argc, char** argv) { return dc::worker::worker_main(argc, argv); }
