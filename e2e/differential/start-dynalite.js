// Starts dynalite on 127.0.0.1 (its CLI listens on every interface) with
// tables ready at once, and prints the port it took.
const dynalite = require("dynalite");
const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
server.listen(Number(process.argv[2] || 0), "127.0.0.1", () => {
  console.log(server.address().port);
});
