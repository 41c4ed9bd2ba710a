#include "api/service.h"

int main(int argc, char** argv) { return dc::api_main(argc, argv); }
