"""Local fakes of the providers Callgoose's contact methods call, each speaking its documented API on loopback."""
