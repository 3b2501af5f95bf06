require("../lib.js").restore();
