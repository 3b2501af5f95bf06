const { input, save } = require("../lib.js");
save(input("key"));
