// The Vulkan headers (Debian: libvulkan-dev) without prototypes: every entry point is looked up
// through vkGetInstanceProcAddr from a loader opened at run time, so nothing links libvulkan.
#define VK_NO_PROTOTYPES 1
#include <vulkan/vulkan.h>
