// MountDevice: finding a mount's device in /proc/self/mountinfo text.
#include "readahead.h"

#include <gtest/gtest.h>

namespace chunkfs::fs {
namespace {

constexpr char kMountinfo[] =
    "22 1 252:1 / / rw,relatime - ext4 /dev/vda rw\n"
    "40 22 0:40 / /tmp/a\\040b/mnt rw,nosuid,nodev - fuse.chunkfs /r rw,user_id=0\n"
    "41 22 0:41 / /tmp/x/mnt rw - fuse.chunkfs /r rw\n"
    "42 41 0:42 / /tmp/x/mnt rw - fuse.chunkfs /r rw\n";

TEST(MountDeviceTest, FindsTheDeviceOfAMountpoint) {
  EXPECT_EQ(MountDevice(kMountinfo, "/"), "252:1");
}

TEST(MountDeviceTest, UnescapesSpacesInTheMountpoint) {
  EXPECT_EQ(MountDevice(kMountinfo, "/tmp/a b/mnt"), "0:40");
}

TEST(MountDeviceTest, TheNewestMountOnAPathWins) {
  EXPECT_EQ(MountDevice(kMountinfo, "/tmp/x/mnt"), "0:42");
}

TEST(MountDeviceTest, NoMountIsEmpty) {
  EXPECT_EQ(MountDevice(kMountinfo, "/tmp/x"), "");
  EXPECT_EQ(MountDevice("garbage\n\n", "/"), "");
}

}  // namespace
}  // namespace chunkfs::fs
