module vhost-user-rtc/vrtc

go 1.19
