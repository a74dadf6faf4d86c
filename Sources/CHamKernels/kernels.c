#include "hamkernels.h"
