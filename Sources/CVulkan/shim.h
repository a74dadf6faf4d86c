// The Vulkan loader's headers (Debian: libvulkan-dev; pkg-config vulkan).
#include <vulkan/vulkan.h>
